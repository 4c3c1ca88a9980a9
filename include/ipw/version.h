/* The one place the version is written; CMake reads it from here. */
#ifndef IPW_VERSION_H
#define IPW_VERSION_H
#define IPW_VERSION "0.1.0"
#endif
