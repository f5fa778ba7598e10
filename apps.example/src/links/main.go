// Acme links: a short-link service in Go, on net/http only (no modules to fetch).
// skyrec sets PORT per instance; LINKS_BASE and the rest come from the app's env.
package main

import (
	"context"
	"encoding/json"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

var links = map[string]string{"docs": "https://docs.acme.example/", "shop": "https://shop.acme.example/"}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	// 0.0.0.0 because the ingress Caddy may run on another node; HOST narrows it locally.
	host := os.Getenv("HOST")
	if host == "" {
		host = "0.0.0.0"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if target, ok := links[r.URL.Path[1:]]; ok {
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		hostname, _ := os.Hostname()
		w.Header().Set("content-type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode(map[string]any{"app": "links", "hostname": hostname, "base": os.Getenv("LINKS_BASE"), "go": runtime.Version(), "links": len(links)})
	})
	server := &http.Server{Addr: net.JoinHostPort(host, port), Handler: mux}

	// systemd sends SIGTERM on stop and restart: stop accepting, let requests finish, exit 0.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		server.Shutdown(ctx)
	}()
	log.Printf("links: listening on %s", server.Addr)
	if err := server.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
	log.Print("links: stopped")
}
