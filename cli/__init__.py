"""The `filetransfer` command."""
