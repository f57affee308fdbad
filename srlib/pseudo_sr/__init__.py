"""Unpaired SR with pseudo-supervision (Maeda, CVPR 2020), and the blind-SR table against every engine of srlib.

``config`` (stage dataclasses), ``data`` (the unpaired X / Y stream, the degraded test set), ``train`` (g_step /
u_step / d_step / fit, the ablations, the paired baselines, the x4plus fine-tune), ``evaluate`` (the blind-SR table,
paired CIs, the verdict), ``figures``.
"""
