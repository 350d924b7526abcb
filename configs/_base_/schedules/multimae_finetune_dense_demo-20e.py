# Short dense fine-tuning of the demos (tools/demo_multimae.py: the tiny
# encoder on the 64x64 scenes): the dense schedule at an absolute lr of 5e-4
# for 20 epochs, 2 warmup epochs, cosine to 1e-2 x lr, one validation and
# one checkpoint at the end.
_base_ = ['./multimae_finetune_dense.py']
lr = 5e-4
max_epochs = 20
warmup_epochs = 2
optim_wrapper = dict(optimizer=dict(lr=lr))
param_scheduler = [
    dict(_base_.param_scheduler[0], end=warmup_epochs),
    dict(
        _base_.param_scheduler[1],
        eta_min_ratio=1e-2,
        begin=warmup_epochs,
        end=max_epochs),
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, save_best=None, max_keep_ckpts=1))
