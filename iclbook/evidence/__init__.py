"""The book's evidence layer: what the runs showed, kept and rendered.

From cheap to strong (DESIGN.md, "Evidence"): a run's ledger (``claims.py``), the claim × seed table of several
runs (``tables``), a *record* of that table in ``results/`` with its provenance (``records``), and a *study* of many
independent members whose claims are rates (``studies``). ``fingerprint`` says which code a result depended on, so
that a record or study turns stale when that code moves; ``pages`` renders the robustness page.

Imports run one way: ``fingerprint`` ← ``tables`` ← ``records`` ← ``studies`` ← ``pages``, and nothing here imports
the runners that produce evidence (``iclbook.seeds``, ``iclbook.studies_run``, ``iclbook.pipeline``).
"""
