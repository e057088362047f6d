"""What runs jobs for an operator beyond one run: the hot-folder daemon (daemon.py,
detach.py, pidfile.py) and `filetransfer check` (check.py)."""
