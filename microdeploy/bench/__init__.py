"""`microdeploy bench`: our runtime measured side by side with TFLM's Python interpreter.

- models.py    which models to measure and the inputs they get
- host.py      arena bytes (ours vs TFLM) and interleaved host latency
- firmware.py  instructions per inference on an emulated board, firmware sizes
- mapfile.py   flash bytes per part of the firmware, from the linker's map file
- runner.py    one model (or all) -> BenchResult
- results.py   BenchResult and the JSON file
- chart.py     the comparison chart (matplotlib, the optional `bench` extra)
"""
