// groupchat: one binary, several subcommands (see node/commands.cpp).
#include "node/commands.h"

int main(int argc, char** argv) { return gc::RunCommand(argc, argv); }
