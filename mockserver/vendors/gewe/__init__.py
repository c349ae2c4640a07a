"""GeWe: postImage, downloadImage, forwardImage."""
