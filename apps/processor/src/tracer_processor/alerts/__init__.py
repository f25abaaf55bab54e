"""Alerts: buffering detections and writing them to PostgreSQL as one alert per incident."""
