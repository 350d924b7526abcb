# Copyright (c) mmmae contributors. All rights reserved.
