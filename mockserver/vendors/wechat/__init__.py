"""What GeWe and the wid API share: WeChat's image CDN and its message XML."""
