"""The hot-folder daemon (see run())."""


def unsuitable_reason(job_cfg) -> str | None:
    """Why a job cannot run from the daemon, or None. A job that neither deletes
    its files nor waits for a ready file would send the same files on every scan."""
    if job_cfg['job']['ready_file'] or job_cfg['source']['delete']:
        return None
    return (f'{job_cfg.path}: [source] delete: the daemon needs delete = yes or a '
            '[job] ready_file, or every scan sends the same files again')
