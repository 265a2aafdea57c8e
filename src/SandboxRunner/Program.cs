using SandboxRunner.Host;

return await HostApp.RunAsync(args, Console.Error);
