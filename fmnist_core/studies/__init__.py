"""Comparison studies, one job per module:

spec.py      what a study is: variants (optimizers, regularizers, optimizer x rate sweeps) x seeds
schedule.py  planning (reuse, attach) and scheduling on the job runner; stopping
readback.py  a study's runs and points read back from the store
stats.py     summary, paired statistics (scipy.stats), the verdict and the leaderboard
sweep.py     the fair race: best rate per optimizer on validation, the comparison there on test
estimate.py  time estimates, the study budget, progress
inline.py    running a study in this process (the command line)
lab.py       reproducing the lab's claims with several seeds
"""
