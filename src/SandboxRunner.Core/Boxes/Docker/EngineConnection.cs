using Docker.DotNet;
using Docker.DotNet.Handler.Abstractions;
using Docker.DotNet.X509;

namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// Where the Docker engine is and how to talk to it, read the way the docker CLI reads it:
/// <c>DOCKER_HOST</c> (<c>unix://</c> or <c>tcp://</c>; default <c>unix:///var/run/docker.sock</c>), and for
/// TCP, TLS when <c>DOCKER_TLS_VERIFY</c> is set to anything but empty or <c>0</c>, with <c>ca.pem</c>,
/// <c>cert.pem</c> and <c>key.pem</c> from <c>DOCKER_CERT_PATH</c> (default <c>~/.docker</c>). The server's
/// certificate is checked against that CA, not the system's. Testcontainers reads the same variables, so
/// the tests and the runner reach the same engine. <c>DOCKER_CONFIG</c> (default <c>~/.docker</c>) is where
/// <c>docker login</c> keeps registry logins, which the swarm backend gives its registry pushes and pulls.
/// </summary>
public sealed record EngineConnection(Uri Endpoint, string? CertPath = null)
{
    /// <summary>The Docker config folder (<c>config.json</c>, with the logins of <c>docker login</c>); null: none is read.</summary>
    public string? ConfigFolder { get; init; }

    /// <summary>
    /// Wraps the HTTP handler of each client made here (the benchmarks time every Docker API call a runner makes with a
    /// recording <see cref="DelegatingHandler"/>, whichever part of the backend makes it); null: the transport's own.
    /// </summary>
    internal Func<HttpMessageHandler, HttpMessageHandler>? WrapHandler { get; init; }

    public const string DefaultSocket = "unix:///var/run/docker.sock";

    /// <summary>True when the engine is reached over TCP with TLS (client certificate, server checked against the CA).</summary>
    public bool UsesTls => CertPath is not null;

    /// <summary>The connection <c>DOCKER_HOST</c>, <c>DOCKER_TLS_VERIFY</c> and <c>DOCKER_CERT_PATH</c> describe; a bad value is refused naming the variable.</summary>
    public static EngineConnection FromEnvironment(Func<string, string?> environment)
    {
        var host = environment("DOCKER_HOST") is { Length: > 0 } h ? h.Trim() : DefaultSocket;
        if (!Uri.TryCreate(host, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("unix" or "tcp" or "http" or "https"))
        {
            throw new InvalidOperationException(
                $"DOCKER_HOST '{host}' is not usable: it must be unix:///path/to/docker.sock or tcp://host:port (ssh:// and npipe:// are not supported here).");
        }

        var home = Path.Combine(environment("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker");
        var config = environment("DOCKER_CONFIG") is { Length: > 0 } c ? c : home;
        var verify = environment("DOCKER_TLS_VERIFY") is { Length: > 0 } v && v != "0";
        if (!verify || endpoint.Scheme == "unix")
        {
            return new EngineConnection(endpoint) { ConfigFolder = config };
        }

        var certPath = environment("DOCKER_CERT_PATH") is { Length: > 0 } p ? p : home;
        foreach (var file in (string[])["ca.pem", "cert.pem", "key.pem"])
        {
            if (!File.Exists(Path.Combine(certPath, file)))
            {
                throw new InvalidOperationException(
                    $"DOCKER_TLS_VERIFY is set but {Path.Combine(certPath, file)} does not exist; put ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH ('{certPath}').");
            }
        }

        return new EngineConnection(endpoint, certPath) { ConfigFolder = config };
    }

    /// <summary>The process's own connection (its environment).</summary>
    public static EngineConnection FromProcess() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary>What error messages and logs call it: the endpoint, and whether TLS is used.</summary>
    public override string ToString() => UsesTls ? $"{Endpoint} (TLS, certificates in {CertPath})" : Endpoint.ToString();

    /// <summary>A client for this engine; requests are unversioned, so it talks to a 20.10 engine and to current ones.</summary>
    public DockerClient CreateClient()
    {
        IAuthProvider auth = NoopAuthProvider.Instance;
        if (CertPath is not null)
        {
            try
            {
                auth = DockerTlsCertificates.LoadFromDirectory(CertPath).CreateCredentials();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new InvalidOperationException($"the TLS certificates in DOCKER_CERT_PATH ('{CertPath}') could not be loaded: {e.Message}", e);
            }
        }

        // The auth provider is the one place the builder hands out the transport's handler to be wrapped.
        var builder = new DockerClientBuilder().WithEndpoint(Endpoint).WithAuthProvider(WrapHandler is { } wrap ? new WrappingAuth(auth, wrap) : auth);
        return builder.Build();
    }

    /// <summary>An auth provider that configures the handler as <paramref name="inner"/> does (TLS included), then wraps it.</summary>
    private sealed class WrappingAuth(IAuthProvider inner, Func<HttpMessageHandler, HttpMessageHandler> wrap) : IAuthProvider
    {
        public bool TlsEnabled => inner.TlsEnabled;

        public HttpMessageHandler ConfigureHandler(HttpMessageHandler handler) => wrap(inner.ConfigureHandler(handler));
    }
}
