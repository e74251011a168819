"""MLPerf Tiny mode: firmware that speaks the benchmark's device-under-test protocol
(`init --app mlperf-tiny --benchmark ...`) and a host driver of our own (`microdeploy mlperf`).
"""
