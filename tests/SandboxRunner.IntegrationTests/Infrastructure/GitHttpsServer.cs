using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// An HTTPS server on this machine (all interfaces: containers reach it through the docker0 gateway) that serves
/// one git repository over git's dumb HTTP protocol, so <c>git ls-remote https://…/repo.git</c> in a container
/// succeeds exactly when the container trusts the server's certificate.
/// </summary>
public sealed class GitHttpsServer : IAsyncDisposable
{
    /// <summary>The commit the served repository's main branch names.</summary>
    public const string Head = "5e5e1e5e7ab1e0000000000000000000000c0ffe";

    private readonly WebApplication _app;

    private GitHttpsServer(WebApplication app) => _app = app;

    public int Port { get; private set; }

    /// <summary>Paths of the requests that completed a TLS handshake.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public static async Task<GitHttpsServer> StartAsync(X509Certificate2 certificate)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(options => options.Listen(IPAddress.Any, 0, listen => listen.UseHttps(certificate)));
        var app = builder.Build();
        var server = new GitHttpsServer(app);
        app.Run(async context =>
        {
            server.Requests.Enqueue(context.Request.Path);
            var path = context.Request.Path.Value ?? "";
            context.Response.ContentType = "text/plain";
            if (path.EndsWith("/info/refs", StringComparison.Ordinal))
            {
                await context.Response.WriteAsync($"{Head}\trefs/heads/main\n");
            }
            else if (path.EndsWith("/HEAD", StringComparison.Ordinal))
            {
                await context.Response.WriteAsync("ref: refs/heads/main\n");
            }
            else
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        server.Port = new Uri(address.Replace("0.0.0.0", "localhost", StringComparison.Ordinal)).Port;
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
