"""`microdeploy bench`: our runtime measured side by side with TFLM's Python interpreter.

- models.py    which models to measure and the inputs they get
- host.py      arena bytes (ours vs TFLM) and interleaved host latency
- firmware.py  instructions per inference on an emulated board, firmware sizes
- mapfile.py   flash bytes per part of the firmware, from the linker's map file
- codesize.py  runtime code size of an op set, ours vs TFLM's wheel (x86-64 proxy)
- tflm_m4.py   the same on the Cortex-M4 against a TFLM build from a given source tree
  (tflm_m4_app.py: the TFLM application it builds; tflm_m4_sizes.py: the size rule per map)
- runner.py    one model (or all) -> BenchResult
- results.py   BenchResult and the JSON file
- chart.py     the comparison chart (matplotlib, the optional `bench` extra)
"""
