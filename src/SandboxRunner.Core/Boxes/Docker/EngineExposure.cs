using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// Whether the engine's API answers anyone who can open a connection to it. A container under
/// <c>network_policy: allow</c> (or a setup under <c>setup_network: allow</c>) sits on the engine's bridge, whose
/// gateway is the engine's own host: a plain-TCP endpoint there (<c>DOCKER_HOST=tcp://docker:2375</c>, the usual
/// Docker-in-Docker CI job) gives it the whole API, every other run's proxy included, and privileged containers.
/// A unix socket is never mounted into a container, and TLS that demands a client certificate refuses a task,
/// which has none. Besides the endpoint the runner uses, the engine's conventional ports (2375 plain, 2376 TLS)
/// are asked where a task would find them: the bridge's gateway for a local engine, the endpoint's host for a
/// TLS one, since dockerd often listens on more than one.
/// </summary>
public static class EngineExposure
{
    public const int PlainPort = 2375;
    public const int TlsPort = 2376;
    private static readonly TimeSpan ProbeBudget = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Why the engine answers without credentials, or null when nothing found shows it does.
    /// <paramref name="bridgeGateway"/> is the address containers on the default bridge reach the engine's host at.
    /// </summary>
    public static async Task<string?> ProbeAsync(EngineConnection connection, string? bridgeGateway, CancellationToken cancellationToken)
    {
        var endpoint = connection.Endpoint;
        if (endpoint.Scheme == "unix")
        {
            if (bridgeGateway is null)
            {
                return null;
            }

            if (await AnswersAsync(bridgeGateway, PlainPort, tls: false, cancellationToken))
            {
                return $"besides {endpoint}, the engine answers plain TCP on {bridgeGateway}:{PlainPort}, the gateway of the bridge containers use";
            }

            return await AnswersAsync(bridgeGateway, TlsPort, tls: true, cancellationToken)
                ? $"besides {endpoint}, the engine answers TLS clients without a certificate on {bridgeGateway}:{TlsPort}, the gateway of the bridge containers use"
                : null;
        }

        if (!connection.UsesTls && endpoint.Scheme is "tcp" or "http")
        {
            return $"the engine is reached at {endpoint} over plain TCP, without TLS: anything that can open a connection to it uses its API";
        }

        if (await AnswersAsync(endpoint.Host, endpoint.Port, tls: true, cancellationToken))
        {
            return $"the engine at {endpoint} accepts TLS clients without a certificate (dockerd --tls without --tlsverify)";
        }

        return endpoint.Port != PlainPort && await AnswersAsync(endpoint.Host, PlainPort, tls: false, cancellationToken)
            ? $"the engine at {endpoint} also answers plain TCP on port {PlainPort} of the same host"
            : null;
    }

    /// <summary>
    /// Asks <c>GET /_ping</c> as an anonymous client (no certificate) and says whether a Docker engine answered
    /// (status 200 with Docker's <c>Api-Version</c> header). An engine that verifies clients ends the handshake or
    /// the connection; any failure counts as "does not answer", since only an answer proves exposure.
    /// </summary>
    internal static async Task<bool> AnswersAsync(string host, int port, bool tls, CancellationToken cancellationToken)
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(ProbeBudget);
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(host, port, budget.Token);
            Stream stream = client.GetStream();
            if (tls)
            {
                // Whoever answers, the probe sends nothing secret: it only asks whether an anonymous client gets an answer.
#pragma warning disable CA5359
                var secure = new SslStream(stream, leaveInnerStreamOpen: false, (_, _, _, _) => true);
#pragma warning restore CA5359
                stream = secure;
                await secure.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = host }, budget.Token);
            }

            await using (stream)
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET /_ping HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"), budget.Token);
                var buffer = new byte[4096];
                var read = 0;
                int chunk;
                while (read < buffer.Length && (chunk = await stream.ReadAsync(buffer.AsMemory(read), budget.Token)) > 0)
                {
                    read += chunk;
                }

                var head = Encoding.ASCII.GetString(buffer, 0, read);
                return head.StartsWith("HTTP/1.", StringComparison.Ordinal) && head.Length > 12 && head[9..12] == "200"
                    && head.Contains("\nApi-Version:", StringComparison.OrdinalIgnoreCase);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or System.Security.Authentication.AuthenticationException or OperationCanceledException or ObjectDisposedException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return false;
        }
    }
}
