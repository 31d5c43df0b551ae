"""Calibrate a scenario from a CRM export and backtest its forecast (the `salesim-calibrate` app)."""
