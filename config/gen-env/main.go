// Command gen-env prints .env.example from the settings table.
package main

import (
	"fmt"

	"github.com/praetorian/db-forge/config"
)

func main() { fmt.Print(config.EnvExample()) }
