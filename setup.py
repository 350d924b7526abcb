# Copyright (c) mmmae contributors. All rights reserved.
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version():
    with open(osp.join(HERE, 'mmmae', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


# requirements/*.txt pin the exact stack that CI tests (docs/install.md). A
# library must not force those pins on the environment it is installed into,
# so every ``==`` pin becomes the range below when the metadata is built:
# - torch >= 2.5: checkpoint loading uses torch.serialization.safe_globals and
#   get_unsafe_globals_in_checkpoint (mmmae/checkpoint/io.py), new in
#   2.5; torchvision 0.20 is the release paired with torch 2.5.
# - mmengine >= 0.10: the release line the compatibility patches
#   (mmmae/utils/compat.py) are written against.
# - mmcv-lite: mmaction2 1.2 and mmsegmentation 1.2 assert mmcv < 2.2.0.
# - mmaction2 / mmsegmentation / mmpretrain: the tested releases, which are
#   also the last ones (later releases are allowed).
RANGES = {
    'torch': 'torch>=2.5',
    'torchvision': 'torchvision>=0.20',
    'mmengine': 'mmengine>=0.10.0',
    'mmcv-lite': 'mmcv-lite>=2.0.0,<2.2.0',
    'mmaction2': 'mmaction2>=1.2.0',
    'mmsegmentation': 'mmsegmentation>=1.2.2',
    'mmpretrain': 'mmpretrain>=1.2.0',
}


def as_range(req):
    """``req`` with an exact ``==`` pin replaced by its range in RANGES."""
    if '==' not in req:
        return req
    name = re.split(r'[=<>!~;\[ ]', req, maxsplit=1)[0].strip()
    if name not in RANGES:
        raise ValueError(f'{req!r} is pinned in requirements/ but setup.py '
                         'has no range for it: add one to RANGES')
    return RANGES[name]


def parse_requirements(fname):
    """Read a requirements file, following ``-r`` includes; exact pins
    become ranges (see RANGES)."""
    reqs = []
    with open(osp.join(HERE, fname)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(
                    osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                reqs.append(as_range(line))
    return reqs


setup(
    name='mmmae',
    version=get_version(),
    description='Masked-autoencoder pretraining (VideoMAE, MultiMAE) '
    'for the OpenMMLab stack',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    # the start-up hook behind mmmae-startup.pth (see mmmae_startup.py)
    py_modules=['mmmae_startup'],
    python_requires='>=3.10',
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require=dict(
        tests=parse_requirements('requirements/tests.txt'),
        optional=parse_requirements('requirements/optional.txt'),
        all=parse_requirements('requirements.txt')),
    license='Apache-2.0',
    zip_safe=False)
