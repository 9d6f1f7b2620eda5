"""The photo chunk size of a sync run: small at first, larger while chunks get through, halved
after a cut, and tried larger again once the link has been good for a while."""

from __future__ import annotations

from field_client.chunking import LARGEST, PROBE_AFTER, SMALLEST, START, ChunkSizer

KIB = 1024


def test_starts_small_and_doubles_while_chunks_arrive_up_to_8_mib():
    sizer = ChunkSizer()
    sizes = [sizer.size]
    for _ in range(8):
        sizer.delivered()
        sizes.append(sizer.size)
    assert START == 256 * KIB
    assert sizes == [256 * KIB, 512 * KIB, 1024 * KIB, 2048 * KIB, 4096 * KIB, LARGEST, LARGEST, LARGEST, LARGEST]


def test_a_cut_halves_the_size_and_holds_it_there_until_the_link_has_been_good_a_while():
    sizer = ChunkSizer()
    sizer.delivered()  # 512 KiB
    sizer.cut()
    assert sizer.size == 256 * KIB
    for _ in range(PROBE_AFTER - 1):
        sizer.delivered()
        assert sizer.size == 256 * KIB
    sizer.delivered()
    assert sizer.size == 512 * KIB  # a larger try after PROBE_AFTER good chunks at the ceiling


def test_cuts_never_go_below_the_smallest_chunk():
    sizer = ChunkSizer()
    for _ in range(20):
        sizer.cut()
    assert sizer.size == SMALLEST == 16 * KIB


def test_a_fixed_size_never_changes():
    sizer = ChunkSizer(64 * KIB)
    sizer.cut()
    sizer.delivered()
    sizer.delivered()
    assert sizer.size == 64 * KIB
