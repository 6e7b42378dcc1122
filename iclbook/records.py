"""The records' old address: ``iclbook.evidence.records`` (and ``fingerprint``) under their former name.

Every chapter's notebook helper (``iclbook/notebook.py``) imports ``iclbook.records``; since that file's code is part
of every record's fingerprint, it keeps its import and this module forwards to the evidence layer.
"""
__all__ = ["RENDER_ONLY", "code_text", "dependencies", "file_code", "fingerprint", "render_only", "RecordError",
           "command", "holds_k_of_n", "is_stale", "load_all", "make_record", "markdown", "provenance_line",
           "record_path", "results_dir", "variant", "write"]

from .evidence.fingerprint import (RENDER_ONLY, code_text, dependencies, file_code, fingerprint,  # noqa: F401
                                   render_only)
from .evidence.records import (RecordError, command, holds_k_of_n, is_stale, load_all, make_record,  # noqa: F401
                               markdown, provenance_line, record_path, results_dir, variant, write)
