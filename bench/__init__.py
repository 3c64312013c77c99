"""`make bench`: load the daemon and a ceiling app with wrk, in the same run, and report ratios."""
