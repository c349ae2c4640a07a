"""Words GeWe and the wid API both answer with (their Chinese messages)."""

NO_ROUTE = ("接口不存在", "请求方法不支持")  # no API at the path / not with this method
UNAVAILABLE = "服务暂不可用"  # the mock cannot serve for now: its store is out of reach
