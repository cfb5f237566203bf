-- 16 requests in one write: the client pipelines, the server must answer them in order.
-- wrk sends this string as one "request" and counts each of the 16 responses it gets back.
init = function(args)
   local path = args[1] or "/tiny.html"
   local requests = {}
   for i = 1, 16 do
      requests[i] = wrk.format("GET", path)
   end
   batch = table.concat(requests)
end

request = function()
   return batch
end
