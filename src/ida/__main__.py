from ida.cli import main

main()
