using System.Diagnostics;
using System.Text;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// How long the MCP server takes from its process start to the answer of <c>initialize</c> and then <c>tools/list</c>,
/// spoken as raw JSON lines over stdio the way an MCP client does, against a .NET hello-world started the same way
/// (<c>dotnet X.dll</c>, as the installed wrapper starts the server). The server is the one <c>.ci/install</c> publishes:
/// the same <c>dotnet publish</c> command, into a scratch folder.
/// </summary>
internal static class ServerStart
{
    private const string Initialize =
        """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1.0"}}}""";

    private const string Initialized = """{"jsonrpc":"2.0","method":"notifications/initialized"}""";

    private const string ListTools = """{"jsonrpc":"2.0","id":2,"method":"tools/list"}""";

    /// <summary>Publishes the host as <c>.ci/install</c> does (unless a build is named) and a hello-world; returns both dlls.</summary>
    public static async Task<(string Server, string Hello)> PrepareAsync(string? serverDll, string scratch, CancellationToken cancellationToken)
    {
        var server = serverDll;
        if (server is null)
        {
            var root = RepositoryRoot();
            var output = Path.Combine(scratch, "server");
            Console.Error.WriteLine($"publishing {root}/src/SandboxRunner as .ci/install does (dotnet publish -c Release) into {output}");
            await Shell.RunAsync("dotnet", ["publish", Path.Combine(root, "src", "SandboxRunner"), "-c", "Release", "-o", output, "--nologo", "-v", "quiet"], cancellationToken);
            server = Path.Combine(output, "sandbox-runner.dll");
        }

        var hello = Path.Combine(scratch, "hello");
        Directory.CreateDirectory(hello);
        await File.WriteAllTextAsync(
            Path.Combine(hello, "hello.csproj"),
            "<Project Sdk=\"Microsoft.NET.Sdk\"><PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework></PropertyGroup></Project>\n",
            cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(hello, "Program.cs"), "System.Console.WriteLine(\"hello\");\n", cancellationToken);
        await Shell.RunAsync("dotnet", ["publish", hello, "-c", "Release", "-o", Path.Combine(hello, "out"), "--nologo", "-v", "quiet"], cancellationToken);
        return (server, Path.Combine(hello, "out", "hello.dll"));
    }

    /// <summary>Process start to the hello-world's exit.</summary>
    public static async Task<double> HelloAsync(string helloDll, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var output = await Shell.RunAsync("dotnet", [helloDll], cancellationToken);
        var end = Stopwatch.GetTimestamp();
        return output.Trim() == "hello" ? Timing.Ms(start, end) : throw new InvalidOperationException($"the hello-world said {output}");
    }

    /// <summary>Process start to the <c>tools/list</c> answer; the server is then told to go (stdin closed) and waited for, untimed.</summary>
    public static async Task<(double Ms, int Tools)> InitializeAndListAsync(string serverDll, string repository, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = repository,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardInputEncoding = new UTF8Encoding(false),
        };
        psi.ArgumentList.Add(serverDll);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        var start = Stopwatch.GetTimestamp();
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("the server could not be started");
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.StandardInput.WriteLineAsync(Initialize.AsMemory(), timeout.Token);
            await process.StandardInput.FlushAsync(timeout.Token);
            await AnswerAsync(process, "\"id\":1", timeout.Token);
            await process.StandardInput.WriteLineAsync($"{Initialized}\n{ListTools}".AsMemory(), timeout.Token);
            await process.StandardInput.FlushAsync(timeout.Token);
            var tools = await AnswerAsync(process, "\"id\":2", timeout.Token);
            var end = Stopwatch.GetTimestamp();
            process.StandardInput.Close();
            await process.WaitForExitAsync(timeout.Token);
            return (Timing.Ms(start, end), CountOf(tools, "\"inputSchema\""));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"the server did not answer initialize + tools/list: {await stderr}", e);
        }
    }

    private static async Task<string> AnswerAsync(Process process, string id, CancellationToken cancellationToken)
    {
        while (await process.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Contains(id, StringComparison.Ordinal))
            {
                return line;
            }
        }

        throw new IOException("the server closed stdout");
    }

    private static int CountOf(string text, string what)
    {
        var count = 0;
        for (var at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SandboxRunner.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("no SandboxRunner.sln above the benchmark's folder: name the server with --server DLL");
    }
}
