"""ckd_train"""
