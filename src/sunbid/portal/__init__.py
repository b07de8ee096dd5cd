"""The public portal (公共资源交易信息网, SPEC P-1) and the read models of projects that pages share."""
