# Copyright (c) mmmae contributors. All rights reserved.
from . import (algorithms, backbones, data_preprocessors, heads, losses,
               necks, utils)
from .algorithms import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403

__all__ = (
    algorithms.__all__ + backbones.__all__ + data_preprocessors.__all__ +
    heads.__all__ + losses.__all__ + necks.__all__ + utils.__all__)
