"""The evaluation domain as pydantic models and pure functions: scorecards and scoring, the lifecycle,
sampling, calibration statistics and mystery shopping."""
