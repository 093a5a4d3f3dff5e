from vreg_cli.cli import main

__all__: list[str] = []


main()
