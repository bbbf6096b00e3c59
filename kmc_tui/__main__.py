from kmc_tui.cli import console_main

console_main()
