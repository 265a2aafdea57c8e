using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Benchmarks;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

// dotnet run -c Release --project bench/SandboxRunner.Benchmarks -- [task-overhead|checkout|transport|environments|toolchains|runtime|verify|parsers|deny|swarm|warm|all]
// dotnet run -c Release --project bench/SandboxRunner.Benchmarks -- swarm --pin-nodes
// dotnet run -c Release --project bench/SandboxRunner.Benchmarks -- issue26 [options]
var what = args.Length == 0 ? "all" : args[0];
var issue26 = what == "issue26" ? Issue26Options.Parse(args[1..]) : null;
var pinNodes = what == "swarm" && args.Length == 2 && args[1] == "--pin-nodes";
if ((what == "issue26" && issue26 is null)
    || (what != "issue26" && ((args.Length > 1 && !pinNodes) || what is not ("task-overhead" or "checkout" or "transport" or "environments" or "toolchains" or "runtime" or "verify" or "parsers" or "deny" or "swarm" or "warm" or "all"))))
{
    Console.Error.WriteLine("usage: SandboxRunner.Benchmarks [task-overhead|checkout|transport|environments|toolchains|runtime|verify|parsers|deny|swarm [--pin-nodes]|warm|all]");
    Console.Error.WriteLine($"       SandboxRunner.Benchmarks {Issue26Options.Usage}");
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Let the finally blocks remove containers and folders.
    e.Cancel = true;
    cancel.Cancel();
};

var started = Stopwatch.GetTimestamp();
Console.WriteLine($"# SandboxRunner benchmarks: {what}");
Console.WriteLine($"{System.Environment.ProcessorCount} cores, .NET {System.Environment.Version}, {await DescribeEnvironmentAsync()}");
Console.WriteLine("median / p90 (nearest rank) / min over the measured runs, wall clock by Stopwatch; warm-up runs are discarded.");
Console.WriteLine();

try
{
    if (issue26 is not null)
    {
        await Issue26Benchmark.RunAsync(issue26, cancel.Token);
    }

    if (what is "task-overhead" or "all")
    {
        await TaskOverheadBenchmark.RunAsync(cancel.Token);
    }

    if (what is "checkout" or "all")
    {
        await CheckoutBenchmark.RunAsync(cancel.Token);
    }

    if (what is "transport" or "all")
    {
        await TransportBenchmark.RunAsync(cancel.Token);
    }

    if (what is "environments" or "all")
    {
        await EnvironmentBenchmark.RunAsync(cancel.Token);
    }

    if (what is "toolchains" or "all")
    {
        await ToolchainBenchmark.RunAsync(cancel.Token);
    }

    if (what is "runtime" or "all")
    {
        await RuntimeBenchmark.RunAsync(cancel.Token);
    }

    if (what is "verify" or "all")
    {
        await VerifyBenchmark.RunAsync(cancel.Token);
    }

    if (what is "deny")
    {
        await DenyBenchmark.RunAsync(cancel.Token);
    }

    if (what is "parsers" or "all")
    {
        await ParserBenchmark.RunAsync(cancel.Token);
    }

    // Not in "all": it starts a two-node swarm of its own (a registry and two dockerds in containers).
    if (what is "swarm")
    {
        await SwarmBenchmark.RunAsync(pinNodes, cancel.Token);
    }

    // Not in "all": a measured decision (issue 26 point 7), not a figure to watch.
    if (what is "warm")
    {
        await WarmStartBenchmark.RunAsync(cancel.Token);
    }
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("cancelled; containers and temp folders of this run were removed");
    return 130;
}

Console.WriteLine($"total benchmark time: {Stopwatch.GetElapsedTime(started).TotalSeconds:F0} s");
return 0;

async Task<string> DescribeEnvironmentAsync()
{
    using var docker = new DockerEngine(NullLogger<DockerEngine>.Instance);
    var (version, api) = await docker.PingAsync(cancel.Token);
    if (!await docker.ImageExistsAsync(TaskOverheadBenchmark.Image, cancel.Token))
    {
        throw new InvalidOperationException(
            $"{TaskOverheadBenchmark.Image} is missing; build it with `docker build -t {TaskOverheadBenchmark.Image} images/fake-codex`");
    }

    var git = (await Shell.RunAsync("git", ["--version"], cancel.Token)).Trim();
    var cpu = File.Exists("/proc/cpuinfo")
        ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
        : null;
    var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30);
    return $"Docker {version} (API {api}), {git}, uid {SandboxRunner.Platform.UnixOwner.CurrentProcess.Uid}, {cpu ?? "cpu unknown"}, {memory} GiB";
}
