"""The polite, bounded HTTP client shared by sources, targets and model downloads;
only net/, sources/, targets/ touch httpx."""
