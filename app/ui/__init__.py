"""The console's Qt layer. Nothing outside app.ui imports Qt."""
