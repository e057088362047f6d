"""Running a job: the job with its lock and tries (job.py), one pass over the source
(copier.py), one file's way (filecopy.py) or several at once (parallel.py), the
ledger that books every file (ledger.py), the journal of files being written
(journal.py), resume, the selection of files, the lock."""
