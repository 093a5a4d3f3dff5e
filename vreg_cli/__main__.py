from vreg_cli.cli import main

main()
