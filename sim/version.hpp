#pragma once
#ifndef MMSIM_VERSION
#define MMSIM_VERSION "unknown"
#endif
