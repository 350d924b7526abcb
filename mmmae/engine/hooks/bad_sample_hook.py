# Copyright (c) mmmae contributors. All rights reserved.
__all__ = []
