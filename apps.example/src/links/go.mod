module acme.example/links

go 1.19
