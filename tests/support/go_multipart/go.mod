module multipartcheck

go 1.19
