"""One module per chapter: what the chapter trains and how (configs, sweeps, training routines, figure functions),
as importable functions of plain-data configs that an executor can run as jobs.

Generic measurements (PCA, LLC, probes, phases) stay in ``iclbook.analysis``; models and task samplers import
neither these modules nor the trainer.
"""
