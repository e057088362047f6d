"""``python -m filetransfer``: the `filetransfer` command."""

from filetransfer.cli.main import main

main()
