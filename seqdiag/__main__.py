from seqdiag.cli import main

main()
