from dreamwright.cli import main

main()
