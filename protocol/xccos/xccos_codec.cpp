#include "protocol/xccos/xccos_codec.h"
