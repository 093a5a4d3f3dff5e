from retinareg.cli import main

main()
