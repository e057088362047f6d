"""How the command's memory is allocated while files move (glibc's malloc)."""


def steady_malloc() -> None:
    """Has glibc's malloc keep to two arenas, and give every block of 128 KiB or
    more its own mapping, returned when freed. By default each thread that
    allocates may get an arena of its own (up to 8 per CPU), and the limit for a
    mapping of its own rises to the size of the largest block freed (up to 32
    MiB): the large buffers of files moving then stay in the arenas, which
    fragment. With 64 files at once that took the command's peak memory from
    about 49 MiB to 64-70 MiB in one run out of two (70 files of 2 MiB and 3,000
    small ones, downloaded over a 40 ms round trip); with the limit fixed, 49-51
    MiB in each of 8 runs. One file of 1 GiB downloaded over SFTP, whose pieces
    (256 KiB) and reads from ssh (up to 1 MiB) live for different times: 69-78 MiB
    without, 42 MiB with. Elsewhere than glibc, nothing is done."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return
    mallopt(M_ARENA_MAX, 2)
    mallopt(M_MMAP_THRESHOLD, 128 << 10)   # fixed: no longer raised by frees


M_MMAP_THRESHOLD = -3     # glibc's malloc.h
M_ARENA_MAX = -8
