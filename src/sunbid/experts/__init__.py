"""Experts 评标专家: the shared pool, avoidance 回避, the verifiable draw 专家抽取, the sealed list (E-1, E-2)."""
