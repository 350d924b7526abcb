# The ray-cast demo scenes (mmmae/datasets/demo/scenes.py; make them with
# `python -m mmmae.datasets.demo scenes --root data/scenes`) at 64x64: the
# splits and loaders shared by the depth and the RGB-D semseg bases, which
# add their pipelines and annotations.
dataset_type = 'mmmae.MultiModalSegDataset'
data_root = 'data/scenes'
crop_size = (64, 64)
scenes = dict(
    type=dataset_type, data_prefix=dict(img_path='rgb'), img_suffix='.png')
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(scenes, data_root=data_root + '/train'))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(scenes, data_root=data_root + '/val'))
test_dataloader = val_dataloader
